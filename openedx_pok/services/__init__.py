"""
Domain logic: what the plugin decides, independent of how Open edX or POK are reached.

Grouped by capability, in the order a credential meets them: ``issuing`` (the credential's way from
the platform's request to POK's final answer), ``templates`` (what POK is asked to draw) and
``pages`` (what the certificate page shows); ``adoption`` takes over the existing plugin's tables.
Every group reads the modules beside this one: ``lifecycle`` applies the ``transitions`` table,
``policy`` says how long anything waits and ``queueing`` sends the tasks by name.
"""
