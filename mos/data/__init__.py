"""Everything about the data before a model sees it: the record format and its validation
(`records`), hub and local dataset adapters (`datasets`), the embedded skills testbed (`testbed/`),
the tiny backbones' tokenizer and the tokenizer loader (`tokenizer`), chat templates
(`chat_templates`), tokenization with loss masks and its cache (`tokenized`), and packing examples
into rows (`batching`). May import `mos.common` only."""
