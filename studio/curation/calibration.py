"""Texts every fast encoder is checked on against its reference (cosine of the vectors): short
and long, clean and messy, the kinds a studio embeds. Its own module, so the ONNX encoder and the
embedder share it without importing each other."""

CALIBRATION = [
    "omg the game last night was unreal, cant believe we won in overtime!!",
    "Our support team answers within one business day; please include your order number.",
    "Summarise: city council approves new bike lanes on Main St after months of debate",
    "lol why is my phone battery dying so fast after the update #annoying",
    "The product ships in a recyclable box and comes with a two-year warranty.",
    "Terrible service. Waited 45 minutes and the food was cold.",
    "ok",
    "Heavy rain expected tomorrow across the north; commuters should allow extra time "
    "and check travel updates before setting out in the morning.",
]
