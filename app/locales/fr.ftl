# Outpost, français. Mêmes clés que en.ftl (app/build.rs refuse de compiler sinon).

## The shell: navigation, header, language
brand = Outpost
nav-label = Principal
nav-store-data = Données du magasin
nav-admin = Administration
nav-admin-sync = Synchronisation
nav-sync = Synchro
nav-badge-one = { $count } enregistrement en attente d'envoi
nav-badge-other = { $count } enregistrements en attente d'envoi
nav-stale-warning = Aucune synchronisation réussie depuis plus d'un jour
nav-stale-error = Aucune synchronisation réussie depuis plus de 3 jours
header-synced = Synchronisé { $ago }
header-syncing = Synchronisation…
header-failed = Échec de la synchronisation
header-never = Jamais synchronisé
header-not-configured = Synchronisation non configurée
language = Langue
lang-en = English
lang-fr = Français
not-found-title = Page introuvable
not-found-text = Il n'y a pas de page à cette adresse. Utilisez la navigation pour aller à Synchro, Données du magasin ou Administration › Synchronisation.

## Times and numbers
just-now = à l'instant
duration-seconds = { $n } s
duration-minutes = { $m } min { $s } s
duration-hours = { $h } h { $m } min

## Failures of a request
failure-network = Impossible de joindre le serveur Outpost ({ $detail }). Vérifiez qu'il fonctionne et que cet appareil est sur son réseau.
failure-request = Cette page n'a pas pu écrire sa requête ({ $detail }). Rechargez la page et réessayez.
failure-response = Le serveur a envoyé une réponse que cette page ne comprend pas ({ $detail }). Rechargez la page ; si cela persiste, les versions de l'application et du serveur diffèrent.
failure-http = Le serveur a répondu { $status } { $text }.
api-NOT_CONFIGURED = La synchronisation n'est pas encore configurée : enregistrez d'abord l'URL du serveur central, le nom du site et le mot de passe dans les paramètres de synchronisation.
sync-disabled = La synchronisation est désactivée dans les paramètres ; activez-la pour synchroniser.
wrong-password = Mot de passe administrateur incorrect.
api-TOO_MANY_REQUESTS = Trop de tentatives de connexion échouées ; attendez une minute et réessayez.
api-INTERNAL = Un problème est survenu sur le serveur. Réessayez ; si cela continue, contactez le support.

## The Sync page
sync-title = État de la synchronisation
sync-now = Synchroniser !
syncing = Synchronisation
sync-explain = Les enregistrements à envoyer sont les modifications faites ici que les serveurs centraux n'ont pas encore reçues. Ce serveur se synchronise seul toutes les quelques minutes ; Synchroniser ! lance une synchronisation tout de suite.
retrying = Nouvel essai automatique.
not-configured = La synchronisation n'est pas encore configurée. Saisissez l'URL du serveur central, le nom du site et le mot de passe dans
admin-sync-link = Administration › Synchronisation
records-to-push = Enregistrements à envoyer
last-sync = Dernière synchronisation
last-successful-sync = Dernière synchronisation réussie
never = Jamais
run-took = { $when }, durée { $duration }
run-running = { $when }, en cours depuis { $duration }
run-completed = { $when }, terminée en { $duration }
age-over-3-days = — il y a plus de 3 jours : vérifiez la connexion et appuyez sur Synchroniser !
age-over-1-day = — il y a plus d'un jour
stepper-label = Étapes de la synchronisation
step-state-pending = en attente
step-state-active = en cours
step-state-done = terminée
step-state-error = en erreur
step-state-skipped = sautée
speed = { $speed }/s
speed-left = { $speed }/s · reste { $left }
error-details = Détails de l'erreur
error-default-hint = Réessayez ; si cela continue, envoyez les détails ci-dessous à votre contact support.
quarantine-one = { $count } enregistrement mis de côté
quarantine-other = { $count } enregistrements mis de côté
quarantine-explain = Reçus : arrivés d'un serveur central mais impossibles à enregistrer ici ; corrigez-les sur le serveur central, puis réessayez. Envoyés : un serveur central les a refusés (voir la raison) et a pris les autres ; adressez-vous à son administrateur. Les autres ont été synchronisés.
col-direction = Sens
col-when = Date
direction-incoming = Reçu
direction-outgoing = Envoyé
col-table = Table
col-record = Enregistrement
col-reason = Raison
retry = Réessayer
retrying-now = Nouvel essai

## Run history
history-title = Dernières synchronisations
history-empty = Aucune synchronisation pour l'instant.
col-started = Début
col-duration = Durée
col-outcome = Résultat
col-failed-step = Étape en échec
col-error = Erreur
col-pushed = Envoyés
col-pulled = Reçus
col-kind = Type
outcome-success = Réussie
outcome-failed = Échouée
outcome-running = En cours
kind-scheduled = Planifiée
kind-manual = Manuelle
kind-atStart = Au démarrage

## Sync steps
step-prepareInitial = Préparer
step-pushV6 = Envoi V6
step-push = Envoi
step-pullCentral = Réception centrale
step-pullRemote = Réception distante
step-pullV6 = Réception V6
step-integration = Intégrer

## Sync errors
error-CONNECTION_ERROR = Impossible de se connecter au serveur
hint-CONNECTION_ERROR = Vérifiez l'URL du serveur central et la connexion réseau de cet appareil.
error-CERTIFICATE_ERROR = Le certificat TLS du serveur central n'est pas reconnu
hint-CERTIFICATE_ERROR = Si le serveur central utilise une autorité de certification privée, démarrez ce serveur avec --ca-cert FICHIER (le fichier PEM de cette autorité). Vérifiez que le nom d'hôte de l'URL est celui du certificat et que l'horloge de cet appareil est à l'heure.
error-SITE_NAME_NOT_FOUND = Nom de site introuvable
hint-SITE_NAME_NOT_FOUND = Vérifiez le nom du site dans les paramètres de synchronisation ; il doit correspondre à un site du serveur central.
error-INCORRECT_PASSWORD = Mot de passe incorrect
hint-INCORRECT_PASSWORD = Vérifiez le mot de passe du site dans les paramètres de synchronisation.
error-HARDWARE_ID_MISMATCH = Identifiant matériel incorrect
hint-HARDWARE_ID_MISMATCH = Ce site est lié à un autre appareil. Demandez à l'administrateur du serveur central de déverrouiller le site.
error-SITE_HAS_NO_STORE = Le site n'a pas de magasin
hint-SITE_HAS_NO_STORE = Demandez à l'administrateur du serveur central d'attribuer un magasin à ce site.
error-SITE_AUTH_TIMEOUT = L'authentification du site a expiré, réessayez plus tard
hint-SITE_AUTH_TIMEOUT = Le serveur central est occupé ; la synchronisation réessaiera au prochain intervalle.
error-API_VERSION_INCOMPATIBLE = La version de l'API de synchronisation n'est pas compatible
hint-API_VERSION_INCOMPATIBLE = Le serveur central mSupply doit être mis à jour ; contactez le support.
error-V6_API_VERSION_INCOMPATIBLE = La version de l'API de synchronisation V6 n'est pas compatible
hint-V6_API_VERSION_INCOMPATIBLE = Le serveur central Open mSupply doit être mis à jour ; contactez le support.
error-CENTRAL_V6_NOT_CONFIGURED = Serveur central V6 non configuré
hint-CENTRAL_V6_NOT_CONFIGURED = Vérifiez l'URL du serveur central ; le central V5 doit indiquer un serveur central Open mSupply joignable.
error-INTEGRATION_TIMEOUT_REACHED = Le serveur central a mis trop de temps à intégrer les enregistrements envoyés. Réessayez plus tard.
hint-INTEGRATION_TIMEOUT_REACHED = Vos enregistrements ont été envoyés ; rien n'est perdu. La prochaine synchronisation continue.
error-INTEGRATION_ERROR = Le serveur a rencontré un problème.
hint-INTEGRATION_ERROR = Des enregistrements n'ont pas pu être intégrés (l'erreur complète dit si c'est ici ou sur le serveur central). Rien n'est perdu : ils restent en attente et la prochaine synchronisation les intègre de nouveau ; contactez le support si cela persiste.
error-SYNC_RECORD_REJECTED = Le serveur central a refusé des enregistrements envoyés par ce site
hint-SYNC_RECORD_REJECTED = Les enregistrements refusés sont listés dans la quarantaine de la page Synchronisation, avec la raison du serveur central ; voyez l'erreur complète et contactez le support si cela persiste.
error-RECORD_TOO_LARGE = Un enregistrement du serveur central est plus grand que ce que ce site accepte
hint-RECORD_TOO_LARGE = La synchronisation ne peut pas dépasser cet enregistrement tant qu'il n'est pas plus petit. Prévenez l'administrateur du serveur central : l'erreur complète indique où se trouve l'enregistrement et la taille que ce site accepte.
error-PREPARATION_INCOMPLETE = Le serveur central n'a pas fini de préparer les données de ce site
hint-PREPARATION_INCOMPLETE = Rien n'est perdu : la prochaine synchronisation demande au serveur central de préparer ce site à nouveau. Si cela se répète, demandez à l'administrateur du serveur central de consulter son journal pour la préparation de ce site.
error-DATABASE_ERROR = La base de données de ce serveur n'a pas pu être lue ou écrite
hint-DATABASE_ERROR = Rien n'est perdu ; la prochaine synchronisation reprend. Vérifiez que le disque du dossier de données n'est pas plein et qu'il est accessible en écriture, et contactez le support si cela persiste.
error-SITE_UUID_IS_BEING_CHANGED = Site différent
hint-SITE_UUID_IS_BEING_CHANGED = Ces paramètres appartiennent à un autre site que celui avec lequel ce serveur a été initialisé.
error-INVALID_URL = URL invalide
hint-INVALID_URL = Saisissez une URL complète comme http://central.example.org:8001.
error-TIMEOUT = Le serveur a mis trop de temps à répondre
hint-TIMEOUT = La connexion s'est bloquée. Rien n'est perdu ; la prochaine synchronisation reprend là où celle-ci s'est arrêtée.
error-INTERRUPTED = Synchronisation interrompue : ce serveur s'est arrêté pendant la synchronisation
hint-INTERRUPTED = Rien n'est perdu ; la prochaine synchronisation reprend là où celle-ci s'est arrêtée.
error-UNKNOWN = Erreur de synchronisation inconnue
hint-UNKNOWN = Voyez l'erreur complète pour les détails, et contactez le support si cela persiste.

## The server's address and QR code
qr-loading = Chargement de l'adresse du serveur…
qr-server = Serveur :
qr-expand-title = Cliquer pour agrandir
qr-expand-label = Afficher un QR code plus grand de l'adresse du serveur
qr-dialog-label = QR code de l'adresse du serveur
close = Fermer

## Admin sign-in
checking-sign-in = Vérification de la connexion…
signed-in = Connecté en tant qu'administrateur du site
sign-out = Se déconnecter
signing-out = Déconnexion
sign-in-title = Se connecter en tant qu'administrateur du site
sign-in-explain = Modifier les paramètres de synchronisation et les données du magasin demande le mot de passe administrateur de ce serveur.
admin-password = Mot de passe administrateur
sign-in = Se connecter
signing-in = Connexion

## Admin › Synchronisation
settings-title = Administration › Synchronisation
settings-explain = Comment ce serveur joint les serveurs centraux. L'enregistrement vérifie d'abord les informations auprès du serveur central.
field-url = URL du serveur central
help-url = Le serveur central mSupply, par exemple http://central.example.org:8001
field-site-name = Nom du site
help-site-name = Le nom de ce site tel qu'enregistré sur le serveur central
field-password = Mot de passe du site
help-password = Saisissez-le à chaque enregistrement ; il n'est jamais affiché
field-interval = Intervalle (secondes)
help-interval = À quelle fréquence ce serveur se synchronise seul
check-url-empty = Saisissez l'URL du serveur central, par ex. http://central.example.org:8001
check-url-scheme = L'URL doit commencer par http:// ou https://
check-site-name = Saisissez le nom de ce site tel qu'enregistré sur le serveur central
check-password = Saisissez le mot de passe du site (il n'est plus affiché après l'enregistrement)
check-interval = Saisissez un nombre entier de secondes, 1 ou plus
save = Enregistrer
saving = Enregistrement
settings-saved = Paramètres de synchronisation enregistrés. Une synchronisation a démarré.

## Store data
store-title = Données du magasin
loading = Chargement…
no-stores = Ce site n'a pas encore de magasin. Ils arrivent avec la première synchronisation : configurez-la dans
no-stores-end = et appuyez sur Synchroniser ! sur la page Synchro.
locations = Emplacements
assets = Équipements
col-code = Code
col-name = Nom
col-store = Magasin
col-on-hold = En attente
col-actions = Actions
col-serial = Numéro de série
col-notes = Notes
yes = Oui
no = Non
add-location = Ajouter l'emplacement
save-location = Enregistrer l'emplacement
add-asset = Ajouter l'équipement
save-asset = Enregistrer l'équipement
cancel = Annuler
edit = Modifier
delete = Supprimer
edit-location = Modifier l'emplacement { $code }
delete-location = Supprimer l'emplacement { $code }
edit-asset = Modifier l'équipement { $code }
delete-asset = Supprimer l'équipement { $code }
stock-lines = Lignes de stock
col-item = Article
col-batch = Lot
col-expiry = Péremption
col-packs = Conditionnements
col-location = Emplacement
invoices = Factures
col-number = Numéro
col-type = Type
col-status = Statut
col-other-party = Tiers
col-lines = Lignes

## Form errors
invalid-url = URL invalide : utilisez http://hôte:port ou https://hôte
invalid-site-name = Saisissez le nom du site
invalid-interval = L'intervalle doit être compris entre 1 et { $max } secondes
invalid-batch-size = La taille des lots doit être comprise entre 1 et { $max }
invalid-password = Saisissez le mot de passe du site
invalid-password-again = Saisissez de nouveau le mot de passe du site : l'URL ou le nom du site a changé
invalid-other-site = Site différent : ce serveur contient les données d'un autre site ; ces paramètres appartiennent au site { $name }
invalid-id-taken = Un enregistrement avec l'identifiant { $id } existe déjà.
invalid-location-code-taken = Un autre emplacement de ce magasin a déjà le code { $code }.
invalid-location-code = Un emplacement a besoin d'un code.
invalid-location-name = Un emplacement a besoin d'un nom.
invalid-asset-number = Un équipement a besoin d'un numéro d'inventaire.
invalid-store = Choisissez un magasin.
invalid-store-not-here = Le magasin { $store } n'est pas un des magasins de ce site.
