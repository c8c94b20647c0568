"""The control-room query API and web page (``gaitline api serve``)."""
