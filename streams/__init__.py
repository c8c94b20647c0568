"""The Kafka contract: topics, typed message schemas, codecs, broker and client helpers."""
