"""Built-in mappings: one module per vendor, plus declarative presets over ``generic``."""
