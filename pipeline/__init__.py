"""The reference training pipeline: data, scripts and the SageMaker pipeline definition."""
