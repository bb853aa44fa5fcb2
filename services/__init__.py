"""Framework-free core of diffusion-jobs: settings, database, jobs, artifacts, models, sampling, training."""
