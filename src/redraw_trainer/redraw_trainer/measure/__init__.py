"""Everything that scores: open-loop evaluation, reward check, visual gap, replay, reports, plots, clips."""
