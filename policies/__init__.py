"""The loaders: the catalog and the policy files, read from YAML into the core's types (scanner.catalog,
scanner.policy). They import only the core."""
