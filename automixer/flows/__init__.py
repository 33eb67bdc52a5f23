"""Stage flows: the only modules that know the workdir layout, the catalog and Ray."""
