"""CRM data in: amoCRM's leads, contacts, companies, managers and stages loaded into ``crm_*`` tables.

``entities`` says what is read and into which table, ``fields`` flattens an entity into a row, ``spool`` keeps
pages on disk until their batch, ``loader`` reads pages and commits batches with their checkpoints,
``store`` reads back the latest committed version of each entity, ``funnel`` computes the sales funnel, and
``demo`` loads the demo amoCRM account into the demo store.
"""
