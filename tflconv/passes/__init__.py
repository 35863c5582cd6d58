"""Every transformation, one registered pass per module. Importing this package registers them."""
