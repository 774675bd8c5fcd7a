"""User-editable templates rendered in a bounded sandbox."""
