"""The identity service: FAISS gallery, open-set matcher, transit gating, gallery replay, and its stage runner."""
