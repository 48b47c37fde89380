-- The Hive 2.3 metastore cleans transaction records whenever a database, table or partition
-- is dropped (AcidEventListener). DataNucleus does not create these tables from its model, so
-- a DROP would fail with "Table 'metastore.TXN_COMPONENTS' doesn't exist". These are the
-- columns that cleanup touches; Spark never writes transactional tables here.
CREATE TABLE IF NOT EXISTS HIVE_LOCKS (HL_LOCK_EXT_ID bigint, HL_LOCK_INT_ID bigint, HL_TXNID bigint, HL_DB varchar(128), HL_TABLE varchar(128), HL_PARTITION varchar(767)) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE IF NOT EXISTS TXN_COMPONENTS (TC_TXNID bigint, TC_DATABASE varchar(128), TC_TABLE varchar(128), TC_PARTITION varchar(767), TC_OPERATION_TYPE char(1)) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE IF NOT EXISTS COMPLETED_TXN_COMPONENTS (CTC_TXNID bigint, CTC_DATABASE varchar(128), CTC_TABLE varchar(128), CTC_PARTITION varchar(767)) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE IF NOT EXISTS COMPACTION_QUEUE (CQ_ID bigint, CQ_DATABASE varchar(128), CQ_TABLE varchar(128), CQ_PARTITION varchar(767)) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE IF NOT EXISTS COMPLETED_COMPACTIONS (CC_ID bigint, CC_DATABASE varchar(128), CC_TABLE varchar(128), CC_PARTITION varchar(767)) ENGINE=InnoDB DEFAULT CHARSET=latin1;
