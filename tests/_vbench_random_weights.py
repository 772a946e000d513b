"""Write random-initialised weight files in VBench's cache layout (runs inside ``.venv-vbench``).

    .venv-vbench/bin/python -I tests/_vbench_random_weights.py CACHE_DIR

(``-I``, isolated mode, as for ``metrics/_vbench_runner.py``: nothing from the checkout is put on
``sys.path``, so every import comes from the VBench venv.)

Test support only: the files have the architectures and file formats VBench 0.1.5 loads, with
random weights, so the real dimension code runs end to end offline and its real output shapes
and scales can be checked (the scores themselves mean nothing). Written:

- ``raft_model/models/raft-things.pth``: RAFT (vbench.third_party.RAFT), ``module.`` keys;
- ``amt_model/amt-s.pth``: AMT-S built from VBench's ``AMT-S.yaml``, ``{"state_dict": ...}``;
- ``pyiqa_model/musiq_spaq_ckpt-358bb6af.pth``: pyiqa MUSIQ (num_class=1), plain state dict;
- ``clip_model/ViT-B-32.pt`` and ``clip_model/ViT-L-14.pt``: tiny CLIP models (1 layer, width
  64; patch 32 / 14 at 224 px; embedding 512 / 768) saved as traced TorchScript archives, the
  format of the real files (``clip.load`` reads nothing else without ``jit``);
- ``aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth``: ``nn.Linear(768, 1)``.

Subject consistency is not covered: it needs DINO's torch.hub repository code.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(cache: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)

    def save(obj, rel: str) -> None:
        path = cache / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, path)

    from easydict import EasyDict
    from vbench.third_party.RAFT.core.raft import RAFT

    raft = RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False))
    save(
        {f"module.{k}": v for k, v in raft.state_dict().items()},
        "raft_model/models/raft-things.pth",
    )

    import vbench
    from omegaconf import OmegaConf
    from vbench.third_party.amt.utils.build_utils import build_from_cfg

    cfg = Path(vbench.__file__).parent / "third_party/amt/cfgs/AMT-S.yaml"
    amt = build_from_cfg(OmegaConf.load(cfg).network)
    save({"state_dict": amt.state_dict()}, "amt_model/amt-s.pth")

    from pyiqa.archs.musiq_arch import MUSIQ

    save(MUSIQ(pretrained=False).state_dict(), "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth")

    from clip.model import CLIP

    for rel, embed_dim, patch in (
        ("clip_model/ViT-B-32.pt", 512, 32),
        ("clip_model/ViT-L-14.pt", 768, 14),
    ):
        tiny = CLIP(
            embed_dim=embed_dim,
            image_resolution=224,
            vision_layers=1,
            vision_width=64,
            vision_patch_size=patch,
            context_length=77,
            vocab_size=49408,
            transformer_width=64,
            transformer_heads=1,
            transformer_layers=1,
        )
        # clip.load reads TorchScript archives (as OpenAI ships them): trace the tiny model.
        img, txt = torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)
        path = cache / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.trace(tiny.eval(), (img, txt), check_trace=False).save(str(path))
    save(nn.Linear(768, 1).state_dict(), "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
