"""The core, lowest of the layers (README "Architecture"): the model, the catalog, the control test, policy
judgement, tagging and reports, and the helpers every layer uses (errors, strict YAML, the clock, secret
masking). It imports no other package of Custody."""
