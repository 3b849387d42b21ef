"""file_search: routed to its own pool; retrieval itself is a later issue."""
