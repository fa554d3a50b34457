"""The clean-my-data agents: one module per agent, all changes through `state.CleaningState`."""
