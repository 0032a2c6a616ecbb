"""TensorFlow/Keras agents for the course (the only TF layer; may use ``simulator``).

Import the submodule you need, e.g. ``from rlrec_helpers.agents import reinforce``:

* ``reinforce``: GRU policy network, REINFORCE training, serving API (``recommend``);
* ``baselines``: baseline slate policies behind the same interface (incl. LinUCB);
* ``belief``: what the agent believes about a user's interests (click rates or a Bayesian
  posterior), from shown slates and clicks only (numpy);
* ``off_policy``: importance-weighted REINFORCE and the top-K correction (Chen et al. 2019);
* ``transformer``: the small causal-transformer "large model" and RL fine-tuning;
* ``distributed``: running the fine-tuning step under ``tf.distribute``;
* ``multimodal``: content-feature item representations and cold start (notebook 09);
* ``explain``: integrated-gradients explanations of the GRU policy's scores (notebook 09);
* ``persistence``: saving and loading the agents' networks as ``.keras`` files.
"""
