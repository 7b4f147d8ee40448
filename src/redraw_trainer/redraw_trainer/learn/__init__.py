"""Everything that trains: world-model pretraining, Plan2Explore, adaptation, imagination actor-critic, export."""
