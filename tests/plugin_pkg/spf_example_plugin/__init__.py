"""An example spf-bench plugin: :class:`~spf_example_plugin.generator.SunsetGenerator` and the
``hue_hist`` embedder (:func:`~spf_example_plugin.embedder.build_hue_hist`), with their configs
in ``spf_example_plugin/conf`` (docs/extending.md)."""
