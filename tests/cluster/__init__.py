"""The namespace cluster: voxcast nodes as hosts of their own behind Kamailio (issue 17)."""
