"""The identity service: FAISS gallery, open-set matcher, gallery replay."""
