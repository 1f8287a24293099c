"""Export and import: file formats, generated Python code, weights."""
