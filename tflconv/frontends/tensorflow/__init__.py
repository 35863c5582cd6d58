"""The TensorFlow frontend: SavedModels, Keras models, concrete functions and GraphDefs imported
as `tf` dialect IR. `frontend.py` registers it; the rest is the importer (sources, graph, attrs,
library, keras_models, tables, variables, errors). TensorFlow is imported only in this package."""
