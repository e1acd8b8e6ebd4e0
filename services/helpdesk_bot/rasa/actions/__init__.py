"""Custom actions of the help-desk bot (rasa_sdk action server, Python 3.10 env).

Every call to another Otasuke service carries a short-lived token minted for the
conversation's company (taken from the channel's message metadata), so the
bot can never read another tenant's data.
"""
