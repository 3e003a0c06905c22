"""scheduler: recurring jobs from one YAML file, enqueued exactly once per fire time.

Public application API (SPEC section 5) is re-exported here as it lands.
"""

__version__ = "0.1.0"
