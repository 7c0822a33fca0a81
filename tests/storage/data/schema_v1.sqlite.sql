-- A trial store written by lightning_autotune at schema version 1 (sqlite3 .dump of a SQLite
-- file): two studies, trials in every state, with the failure reasons that release wrote.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO schema_version VALUES(1);
CREATE TABLE studies (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	name VARCHAR(512) NOT NULL, 
	space TEXT NOT NULL, 
	directions TEXT NOT NULL, 
	user_attrs TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	UNIQUE (name)
);
INSERT INTO studies VALUES(1,'old-study','{"x": {"type": "continuous", "min": 0.0, "max": 1.0}, "n": {"type": "integer", "min": 1, "max": 4}}','["minimize"]','{"seed": 3, "last_stop": {"reason": "trial budget reached", "at": "2026-12-07T16:46:08.189829+00:00", "by": "vm:8520"}}','2026-12-07 16:46:06.075113');
INSERT INTO studies VALUES(2,'second','{"lr": {"type": "continuous", "min": 0.0001, "max": 0.1, "scale": "log"}}','["maximize"]','{"seed": null}','2026-12-07 16:46:08.309000');
CREATE TABLE trials (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	study_id INTEGER NOT NULL, 
	number INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	params TEXT NOT NULL, 
	"values" TEXT, 
	reason TEXT, 
	started_at DATETIME, 
	finished_at DATETIME, 
	heartbeat_at DATETIME, 
	worker VARCHAR(256), 
	retry_of INTEGER, 
	user_attrs TEXT NOT NULL, 
	CONSTRAINT uq_trials_study_number UNIQUE (study_id, number), 
	FOREIGN KEY(study_id) REFERENCES studies (id) ON DELETE CASCADE
);
INSERT INTO trials VALUES(1,1,0,'COMPLETE','{"x": 0.6994058797135949, "n": 3}','[0.4891685845779476]',NULL,'2026-12-07 16:46:08.002313','2026-12-07 16:46:08.030520','2026-12-07 16:46:08.021478','vm:8520',NULL,'{"note": {"what": "ok"}}');
INSERT INTO trials VALUES(2,1,1,'FAILED','{"x": 0.27540258038789034, "n": 1}',NULL,'oom: MemoryError: cannot allocate 8 GiB','2026-12-07 16:46:08.048407','2026-12-07 16:46:08.072141','2026-12-07 16:46:08.056559','vm:8520',NULL,'{"note": {"what": "oom"}, "error_at": "make.py:18 in objective"}');
INSERT INTO trials VALUES(3,1,2,'FAILED','{"x": 0.992182731628418, "n": 2}',NULL,'ValueError: bad batch','2026-12-07 16:46:08.087385','2026-12-07 16:46:08.101130','2026-12-07 16:46:08.090135','vm:8520',NULL,'{"note": {"what": "value"}, "error_at": "make.py:20 in objective"}');
INSERT INTO trials VALUES(4,1,3,'PRUNED','{"x": 0.8331305682659149, "n": 4}','[1.083130568265915]','MedianPruner at step 1 (value 0.9)','2026-12-07 16:46:08.110041','2026-12-07 16:46:08.124243','2026-12-07 16:46:08.116874','vm:8520',NULL,'{"note": {"what": "pruned"}}');
INSERT INTO trials VALUES(5,1,4,'FAILED','{"x": 0.12799838557839394, "n": 2}','["NaN"]','objective value was nan','2026-12-07 16:46:08.136623','2026-12-07 16:46:08.152656','2026-12-07 16:46:08.144803','vm:8520',NULL,'{"note": {"what": "nan"}}');
INSERT INTO trials VALUES(6,1,5,'COMPLETE','{"x": 0.43053359258919954, "n": 3}','[0.18535917434776286]',NULL,'2026-12-07 16:46:08.164577','2026-12-07 16:46:08.181042','2026-12-07 16:46:08.173079','vm:8520',NULL,'{"note": {"what": "ok"}}');
INSERT INTO trials VALUES(7,1,6,'FAILED','{"x": 0.6083369264379144, "n": 1}',NULL,'interrupted: KeyboardInterrupt','2026-12-07 16:46:08.193359','2026-12-07 16:46:08.199246','2026-12-07 16:46:08.193359',NULL,NULL,'{}');
INSERT INTO trials VALUES(8,1,7,'FAILED','{"x": 0.5318488273769617, "n": 4}',NULL,'process died: signal SIGKILL','2026-12-07 16:46:08.202502','2026-12-07 16:46:08.208580','2026-12-07 16:46:08.202502',NULL,NULL,'{}');
INSERT INTO trials VALUES(9,1,8,'FAILED','{"x": 0.4909013342112303, "n": 2}',NULL,'heartbeat lost: no heartbeat for 75 s','2026-12-07 16:46:08.216368','2026-12-07 16:46:08.217980','2026-12-07 16:46:08.216368',NULL,NULL,'{}');
INSERT INTO trials VALUES(10,1,9,'FAILED','{"x": 0.2005657097324729, "n": 3}',NULL,'coordinator lost: its process ended','2026-12-07 16:46:08.225784','2026-12-07 16:46:08.231677','2026-12-07 16:46:08.225784',NULL,NULL,'{}');
INSERT INTO trials VALUES(11,1,10,'FAILED','{"x": 0.7766845924779773, "n": 1}',NULL,'timeout: ran longer than trial_timeout=30s','2026-12-07 16:46:08.239250','2026-12-07 16:46:08.240812','2026-12-07 16:46:08.239250',NULL,NULL,'{}');
INSERT INTO trials VALUES(12,1,11,'FAILED','{"x": 0.9312051935121417, "n": 3}',NULL,'stopped: time budget reached','2026-12-07 16:46:08.248539','2026-12-07 16:46:08.249954','2026-12-07 16:46:08.248539',NULL,NULL,'{}');
INSERT INTO trials VALUES(13,1,12,'FAILED','{"x": 0.10913072433322668, "n": 1}',NULL,'MetricNotFoundError: monitor ''val_acc'' was never logged; logged: [''val_loss'']','2026-12-07 16:46:08.258027','2026-12-07 16:46:08.264362','2026-12-07 16:46:08.258027',NULL,NULL,'{}');
INSERT INTO trials VALUES(14,1,13,'FAILED','{"x": 0.3324593435972929, "n": 4}',NULL,NULL,'2026-12-07 16:46:08.272448','2026-12-07 16:46:08.274223','2026-12-07 16:46:08.272448',NULL,NULL,'{}');
INSERT INTO trials VALUES(15,1,14,'PRUNED','{"x": 0.6272052023559809, "n": 2}','["NaN"]','objective was nan at step 0','2026-12-07 16:46:08.282375','2026-12-07 16:46:08.289344','2026-12-07 16:46:08.288071',NULL,NULL,'{}');
INSERT INTO trials VALUES(16,1,15,'RUNNING','{"x": 0.6683800099417567, "n": 4}',NULL,NULL,'2026-12-07 16:46:08.297109',NULL,'2026-12-07 16:46:08.297109',NULL,NULL,'{}');
INSERT INTO trials VALUES(17,1,16,'WAITING','{"x": 0.5, "n": 2}',NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{}');
INSERT INTO trials VALUES(18,2,0,'COMPLETE','{"lr": 0.03562512538489399}','[0.9]',NULL,'2026-12-07 16:46:08.318521','2026-12-07 16:46:08.333089','2026-12-07 16:46:08.318521',NULL,NULL,'{}');
CREATE TABLE trial_intermediate (
	trial_id INTEGER NOT NULL, 
	step INTEGER NOT NULL, 
	value FLOAT, 
	PRIMARY KEY (trial_id, step), 
	FOREIGN KEY(trial_id) REFERENCES trials (id) ON DELETE CASCADE
);
INSERT INTO trial_intermediate VALUES(1,0,1.1994058797135949134);
INSERT INTO trial_intermediate VALUES(1,1,0.94940587971359491348);
INSERT INTO trial_intermediate VALUES(2,0,0.77540258038789033889);
INSERT INTO trial_intermediate VALUES(2,1,0.52540258038789033889);
INSERT INTO trial_intermediate VALUES(3,0,1.4921827316284179687);
INSERT INTO trial_intermediate VALUES(3,1,1.2421827316284179687);
INSERT INTO trial_intermediate VALUES(4,0,1.3331305682659149169);
INSERT INTO trial_intermediate VALUES(4,1,1.0831305682659149169);
INSERT INTO trial_intermediate VALUES(5,0,0.62799838557839393615);
INSERT INTO trial_intermediate VALUES(5,1,0.37799838557839393615);
INSERT INTO trial_intermediate VALUES(6,0,0.93053359258919954299);
INSERT INTO trial_intermediate VALUES(6,1,0.68053359258919954299);
INSERT INTO trial_intermediate VALUES(15,0,NULL);
CREATE TABLE trial_metrics (
	trial_id INTEGER NOT NULL, 
	step INTEGER NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	value FLOAT, 
	PRIMARY KEY (trial_id, step, name), 
	FOREIGN KEY(trial_id) REFERENCES trials (id) ON DELETE CASCADE
);
INSERT INTO trial_metrics VALUES(1,0,'val_loss',0.5);
INSERT INTO trial_metrics VALUES(1,0,'acc',0.69999999999999995559);
INSERT INTO trial_metrics VALUES(1,1,'val_loss',0.25);
INSERT INTO trial_metrics VALUES(2,0,'val_loss',0.5);
INSERT INTO trial_metrics VALUES(2,0,'acc',0.69999999999999995559);
INSERT INTO trial_metrics VALUES(2,1,'val_loss',0.25);
INSERT INTO trial_metrics VALUES(3,0,'val_loss',0.5);
INSERT INTO trial_metrics VALUES(3,0,'acc',0.69999999999999995559);
INSERT INTO trial_metrics VALUES(3,1,'val_loss',0.25);
INSERT INTO trial_metrics VALUES(4,0,'val_loss',0.5);
INSERT INTO trial_metrics VALUES(4,0,'acc',0.69999999999999995559);
INSERT INTO trial_metrics VALUES(4,1,'val_loss',0.25);
INSERT INTO trial_metrics VALUES(5,0,'val_loss',0.5);
INSERT INTO trial_metrics VALUES(5,0,'acc',0.69999999999999995559);
INSERT INTO trial_metrics VALUES(5,1,'val_loss',0.25);
INSERT INTO trial_metrics VALUES(6,0,'val_loss',0.5);
INSERT INTO trial_metrics VALUES(6,0,'acc',0.69999999999999995559);
INSERT INTO trial_metrics VALUES(6,1,'val_loss',0.25);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('studies',2);
INSERT INTO sqlite_sequence VALUES('trials',18);
CREATE INDEX ix_trials_study_state ON trials (study_id, state);
COMMIT;
