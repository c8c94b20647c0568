"""From frames to silhouettes and gait parameters: segmentation, 64x44 pretreatment, cadence/speed/steps."""
