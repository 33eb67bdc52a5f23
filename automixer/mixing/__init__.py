"""The mixture science: sampling mixtures, the runs table, surrogates, the optimizer and the mixture YAML.

It imports nothing from ``automixer.flows`` or the CLI: flows wire it to the workdir, the catalog and Ray.
"""
