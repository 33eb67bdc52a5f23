"""The hand-off to the full run: the mixture's components tokenised with the full run's tokenizer.

``tokenizer``: the full run's tokenizer (a ``tokenizers`` JSON file or a local ``transformers`` folder).
``megatron``: one work unit (a component's rows of one pool shard) -> a Megatron-Core indexed dataset.
``blend``: proxy-token shares -> full-run token shares, the epoch check and the ``--data-path`` blend.
"""
