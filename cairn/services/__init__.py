"""Use cases that combine stores: validation and MLflow's rules live here, not in SQL or HTTP."""
