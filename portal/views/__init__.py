"""The portal's pages, one module per area: auth, tokens, organization, account."""
