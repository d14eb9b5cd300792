"""Migration plans: many related objects in one run (spec, order, and the runs built on the job machinery)."""
