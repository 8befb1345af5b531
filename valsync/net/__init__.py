"""All trio code of valsync: listener, client tasks, replica links, and the small RESP client."""
