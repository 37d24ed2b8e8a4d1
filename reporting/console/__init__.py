"""The console's reporting pages: the report index and one page per registered report."""
