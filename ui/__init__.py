"""The thin Streamlit-aware layer: cached wrappers over `geo`, shared state, static payloads."""
