"""digitpad: read handwritten digits drawn on a web page, with a CNN trained on MNIST.

Importing the package is cheap: nothing heavy (torch, onnxruntime, the model) loads here.
"""

__version__ = "0.1.0"
