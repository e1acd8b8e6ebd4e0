"""What every Otasuke process needs: settings, embedded servers, auth, the service app skeleton and the CLI."""
