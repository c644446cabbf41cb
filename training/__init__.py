"""Training-time tools for the demo detector (needs the ``train`` extra: PyTorch).

Nothing in the product imports this package; the runtime only ever sees the
exported ``resources/models/sightline-demo.onnx``.
"""
