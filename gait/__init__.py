"""The science: silhouette pretreatment, gait parameters, models, training and evaluation."""
