"""TopstepX (ProjectX): the trades CSV export."""
