"""Request models of the group-call and recall-flow endpoints, with the vendor's field names."""
