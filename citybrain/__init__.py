"""citybrain: the command line on top of the rooms (schemas, feeds, transforms, warehouse)."""
