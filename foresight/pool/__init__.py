"""The simulated pool's records and the executor interface (below ``resource_manager``)."""
