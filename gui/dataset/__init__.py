"""The dataset panel: source picker, format options, background loader and preview."""
