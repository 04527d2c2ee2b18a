"""The dashboard's routes, one router per audience: sign-in, pages, the JSON API, exports."""
