"""Inference beyond Wald: Satterthwaite, Kenward-Roger, F tests, bootstrap, profiles."""
