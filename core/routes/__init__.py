"""HTTP routes, one module per area; services stay out of route functions."""
