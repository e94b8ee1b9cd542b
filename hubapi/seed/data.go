package seed

// The word lists below are the raw material of the generated data: common
// French given and family names, real communes with their postal code and
// approximate coordinates (WGS 84), street names, kinds of construction
// work with plausible budgets and durations, and the vocabulary of time
// entries, incident reports, planning notes and documents.

var prenoms = []string{
	"Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Jacques", "Bernard", "Christophe", "Patrick",
	"Nicolas", "Daniel", "Frédéric", "Laurent", "Stéphane", "Éric", "David", "Julien", "Sébastien", "Olivier",
	"Thomas", "Antoine", "Maxime", "Alexandre", "Romain", "Mathieu", "Guillaume", "Kévin", "Florian", "Jérôme",
	"Hugo", "Lucas", "Théo", "Louis", "Arthur", "Mohamed", "Karim", "Mehdi", "Yassine", "Rachid",
	"José", "Manuel", "Paulo", "Ahmed", "Mamadou", "Jean-Pierre", "Jean-Luc", "Marc", "Cédric", "Fabrice",
	"Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Sophie", "Christine", "Céline", "Sandrine", "Valérie",
	"Julie", "Camille", "Laura", "Émilie", "Claire", "Aurélie", "Hélène", "Élodie", "Pauline", "Léa",
	"Manon", "Chloé", "Inès", "Sarah", "Amélie", "Anne", "Caroline", "Virginie", "Karima", "Fatima",
}

var noms = []string{
	"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
	"Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
	"Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefebvre", "Faure", "André",
	"Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
	"Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson",
	"Marchand", "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
	"Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud",
	"Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal", "Caron",
	"Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier", "Philippe",
	"Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc", "Payet", "Rolland", "Leclercq", "Guillaume", "Lecomte",
	"Lopez", "Jean", "Dupuy", "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin",
	"Louis", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer", "Klein", "Jacquet",
	"Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Charles", "Renault", "Charpentier",
	"Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé", "Schneider", "Fernandez", "Le Gall", "Collet",
	"Léger", "Bouvier", "Julien", "Prévost", "Millet", "Perrot", "Daniel", "Le Roux", "Cousin", "Germain",
	"Da Silva", "Ferreira", "Pereira", "Benali", "Haddad", "Diallo", "Traoré", "Nguyen", "Ben Saïd", "N'Diaye",
}

// commune is a French commune where sites are located.
type commune struct {
	ville      string
	codePostal string
	lat, lon   float64
	weight     int // relative share of sites
}

var communes = []commune{
	{"Paris", "75011", 48.8590, 2.3800, 14}, {"Paris", "75015", 48.8412, 2.3003, 14}, {"Paris", "75018", 48.8925, 2.3444, 12},
	{"Paris", "75012", 48.8412, 2.3876, 10}, {"Paris", "75020", 48.8638, 2.3985, 10}, {"Paris", "75013", 48.8322, 2.3561, 10},
	{"Boulogne-Billancourt", "92100", 48.8352, 2.2410, 6}, {"Nanterre", "92000", 48.8924, 2.2071, 5}, {"Montreuil", "93100", 48.8638, 2.4485, 5},
	{"Saint-Denis", "93200", 48.9362, 2.3574, 6}, {"Argenteuil", "95100", 48.9478, 2.2474, 4}, {"Versailles", "78000", 48.8049, 2.1204, 4},
	{"Créteil", "94000", 48.7904, 2.4556, 4}, {"Vitry-sur-Seine", "94400", 48.7875, 2.3928, 4}, {"Massy", "91300", 48.7309, 2.2713, 3},
	{"Marne-la-Vallée", "77420", 48.8486, 2.6025, 3}, {"Meaux", "77100", 48.9601, 2.8788, 2}, {"Évry-Courcouronnes", "91000", 48.6290, 2.4410, 3},
	{"Marseille", "13008", 43.2430, 5.3810, 10}, {"Marseille", "13013", 43.3480, 5.4320, 8}, {"Aix-en-Provence", "13100", 43.5297, 5.4474, 5},
	{"Toulon", "83000", 43.1242, 5.9280, 5}, {"Nice", "06000", 43.7102, 7.2620, 8}, {"Cannes", "06400", 43.5528, 7.0174, 3},
	{"Antibes", "06600", 43.5804, 7.1251, 3}, {"Avignon", "84000", 43.9493, 4.8055, 3}, {"Lyon", "69003", 45.7597, 4.8422, 10},
	{"Lyon", "69007", 45.7450, 4.8410, 8}, {"Villeurbanne", "69100", 45.7719, 4.8902, 6}, {"Vénissieux", "69200", 45.6975, 4.8867, 3},
	{"Saint-Étienne", "42000", 45.4397, 4.3872, 5}, {"Grenoble", "38000", 45.1885, 5.7245, 6}, {"Annecy", "74000", 45.8992, 6.1294, 4},
	{"Chambéry", "73000", 45.5646, 5.9178, 3}, {"Clermont-Ferrand", "63000", 45.7772, 3.0870, 5}, {"Valence", "26000", 44.9334, 4.8924, 3},
	{"Toulouse", "31000", 43.6047, 1.4442, 10}, {"Toulouse", "31200", 43.6240, 1.4500, 6}, {"Blagnac", "31700", 43.6373, 1.3900, 3},
	{"Montpellier", "34000", 43.6108, 3.8767, 8}, {"Nîmes", "30000", 43.8367, 4.3601, 4}, {"Perpignan", "66000", 42.6887, 2.8948, 4},
	{"Béziers", "34500", 43.3442, 3.2158, 2}, {"Bordeaux", "33000", 44.8378, -0.5792, 9}, {"Mérignac", "33700", 44.8386, -0.6436, 4},
	{"Pessac", "33600", 44.8067, -0.6311, 3}, {"Bayonne", "64100", 43.4929, -1.4748, 3}, {"Pau", "64000", 43.2951, -0.3708, 3},
	{"La Rochelle", "17000", 46.1603, -1.1511, 3}, {"Poitiers", "86000", 46.5802, 0.3404, 3}, {"Limoges", "87000", 45.8336, 1.2611, 3},
	{"Nantes", "44000", 47.2184, -1.5536, 9}, {"Saint-Nazaire", "44600", 47.2735, -2.2138, 3}, {"Rezé", "44400", 47.1833, -1.5500, 2},
	{"Rennes", "35000", 48.1173, -1.6778, 7}, {"Brest", "29200", 48.3904, -4.4861, 4}, {"Quimper", "29000", 47.9960, -4.1024, 2},
	{"Lorient", "56100", 47.7486, -3.3667, 2}, {"Vannes", "56000", 47.6582, -2.7608, 2}, {"Angers", "49000", 47.4784, -0.5632, 5},
	{"Le Mans", "72000", 48.0061, 0.1996, 4}, {"Tours", "37000", 47.3941, 0.6848, 5}, {"Orléans", "45000", 47.9030, 1.9093, 4},
	{"Caen", "14000", 49.1829, -0.3707, 4}, {"Rouen", "76000", 49.4432, 1.0999, 5}, {"Le Havre", "76600", 49.4944, 0.1079, 4},
	{"Lille", "59000", 50.6292, 3.0573, 8}, {"Roubaix", "59100", 50.6942, 3.1746, 4}, {"Tourcoing", "59200", 50.7239, 3.1612, 3},
	{"Villeneuve-d'Ascq", "59650", 50.6233, 3.1450, 3}, {"Dunkerque", "59140", 51.0343, 2.3768, 3}, {"Valenciennes", "59300", 50.3570, 3.5235, 2},
	{"Amiens", "80000", 49.8941, 2.2958, 3}, {"Arras", "62000", 50.2910, 2.7775, 2}, {"Reims", "51100", 49.2583, 4.0317, 4},
	{"Metz", "57000", 49.1193, 6.1757, 4}, {"Nancy", "54000", 48.6921, 6.1844, 4}, {"Strasbourg", "67000", 48.5734, 7.7521, 8},
	{"Mulhouse", "68100", 47.7508, 7.3359, 4}, {"Colmar", "68000", 48.0794, 7.3585, 2}, {"Dijon", "21000", 47.3220, 5.0415, 4},
	{"Besançon", "25000", 47.2378, 6.0241, 4}, {"Troyes", "10000", 48.2973, 4.0744, 2}, {"Bourges", "18000", 47.0810, 2.3988, 2},
	{"Ajaccio", "20000", 41.9192, 8.7386, 2}, {"Bastia", "20200", 42.6973, 9.4509, 1},
}

var typesVoie = []string{"rue", "rue", "rue", "avenue", "avenue", "boulevard", "chemin", "allée", "impasse", "place", "route", "quai"}

var nomsVoie = []string{
	"Victor Hugo", "Jean Jaurès", "de la République", "du Général de Gaulle", "Pasteur", "Gambetta", "Jules Ferry",
	"de la Gare", "des Écoles", "de la Paix", "Émile Zola", "Anatole France", "Voltaire", "Carnot", "Jean Moulin",
	"des Lilas", "des Tilleuls", "du Moulin", "de l'Église", "du Stade", "des Acacias", "de la Liberté", "Nationale",
	"du 8 Mai 1945", "du 11 Novembre", "Paul Bert", "Aristide Briand", "Louis Pasteur", "Marcel Pagnol", "de Verdun",
	"des Peupliers", "de la Fontaine", "du Château", "des Vignes", "Saint-Exupéry", "Albert Camus", "Marie Curie",
	"Clemenceau", "Foch", "de Strasbourg", "de Bretagne", "des Champs", "du Port", "de la Mairie", "Denis Papin",
}

var nomsResidence = []string{
	"Les Tilleuls", "Le Clos des Vignes", "Les Jardins de Flore", "Le Parc", "Les Terrasses du Lac", "Le Belvédère",
	"Les Hauts de Seine", "Le Domaine des Cèdres", "Les Allées Fleuries", "L'Orée du Bois", "Le Carré Saint-Michel",
	"Les Rives", "Le Patio", "Les Balcons du Port", "Villa Lumière", "Le Hameau des Pins", "Les Coteaux",
	"Le Square Pasteur", "Les Magnolias", "Cœur de Ville", "Le Cours", "Les Platanes", "Le Verger", "Horizon",
}

var personnalites = []string{
	"Jules Ferry", "Victor Hugo", "Marie Curie", "Jean Moulin", "Louis Pasteur", "Simone Veil", "Jean Jaurès",
	"Albert Camus", "Jacques Prévert", "Paul Langevin", "Pierre et Marie Curie", "Antoine de Saint-Exupéry",
	"Jean de La Fontaine", "Joséphine Baker", "Charles Péguy", "George Sand", "Condorcet", "Louise Michel",
}

// chantierKind is a kind of construction work: how sites of that kind are
// named, described, who orders them, their budget and duration.
type chantierKind struct {
	weight      int
	noms        []string // templates: {res} residence, {pers} personality, {nom} family name, {ville}, {n} number
	description []string
	clients     []string // templates as noms
	budgetMin   int64    // euros
	budgetMax   int64
	daysMin     int32 // duration
	daysMax     int32
	industrial  bool // located in a business park rather than a street
}

var chantierKinds = []chantierKind{
	{weight: 18, noms: []string{"Maison {nom}", "Maison individuelle {nom}", "Villa {nom}"},
		description: []string{"Construction d'une maison individuelle de plain-pied, environ {n}0 m², avec garage accolé.",
			"Construction d'une maison R+1 à ossature béton, quatre chambres, RE2020."},
		clients: []string{"M. et Mme {nom}", "M. {nom}", "Mme {nom}"}, budgetMin: 160_000, budgetMax: 480_000, daysMin: 150, daysMax: 330},
	{weight: 12, noms: []string{"Extension maison {nom}", "Surélévation maison {nom}", "Rénovation maison {nom}"},
		description: []string{"Extension de {n}0 m² en ossature bois et création d'une baie vitrée.",
			"Surélévation d'un étage, reprise de charpente et de couverture.",
			"Rénovation complète : isolation, menuiseries, électricité et plomberie."},
		clients: []string{"M. et Mme {nom}", "M. {nom}", "Mme {nom}"}, budgetMin: 45_000, budgetMax: 260_000, daysMin: 45, daysMax: 200},
	{weight: 10, noms: []string{"Résidence {res}", "Résidence {res} – {n}0 logements", "Îlot {res}"},
		description: []string{"Construction de {n}0 logements collectifs en R+4 avec parking souterrain.",
			"Programme de logements collectifs et commerces en pied d'immeuble."},
		clients: []string{"SCI {res}", "{ville} Habitat", "Promotion {nom} Immobilier", "SCCV {res}"}, budgetMin: 2_000_000, budgetMax: 16_000_000, daysMin: 420, daysMax: 900},
	{weight: 9, noms: []string{"Rénovation énergétique – Résidence {res}", "Réhabilitation immeuble {res}"},
		description: []string{"Isolation thermique par l'extérieur, remplacement des menuiseries et de la chaufferie.",
			"Réhabilitation de {n}0 logements en site occupé, mise en accessibilité des parties communes."},
		clients: []string{"{ville} Habitat", "Office public de l'habitat de {ville}", "Syndicat des copropriétaires {res}"}, budgetMin: 400_000, budgetMax: 4_000_000, daysMin: 180, daysMax: 540},
	{weight: 6, noms: []string{"École {pers} – extension", "Groupe scolaire {pers}", "Collège {pers} – réhabilitation"},
		description: []string{"Extension de l'école : {n} salles de classe, préau et restauration scolaire.",
			"Réhabilitation lourde et désamiantage, travaux phasés pendant les vacances scolaires."},
		clients: []string{"Commune de {ville}", "Ville de {ville}", "Conseil départemental"}, budgetMin: 800_000, budgetMax: 7_000_000, daysMin: 240, daysMax: 720},
	{weight: 6, noms: []string{"Aménagement bureaux {nom}", "Plateau tertiaire {res}", "Agence {nom} – réaménagement"},
		description: []string{"Aménagement de {n}00 m² de bureaux en open space, cloisons, faux plafonds et CVC.",
			"Réaménagement d'une agence recevant du public, mise aux normes PMR."},
		clients: []string{"SARL {nom} Conseil", "SAS {nom} et Associés", "Cabinet {nom}"}, budgetMin: 90_000, budgetMax: 1_500_000, daysMin: 45, daysMax: 180},
	{weight: 4, noms: []string{"Entrepôt logistique {ville} Nord", "Plateforme logistique {nom}", "Bâtiment d'activités {res}"},
		description: []string{"Construction d'un entrepôt logistique de {n}0 000 m² avec quais de chargement.",
			"Bâtiment d'activités en charpente métallique, bardage double peau et dallage industriel."},
		clients: []string{"SAS {nom} Logistique", "Transports {nom}", "SCI Parc d'activités {ville}"}, budgetMin: 3_000_000, budgetMax: 22_000_000, daysMin: 300, daysMax: 600, industrial: true},
	{weight: 4, noms: []string{"Gymnase {pers}", "Complexe sportif {pers}", "Piscine municipale de {ville}"},
		description: []string{"Construction d'un gymnase avec salle multisports, vestiaires et tribunes de {n}00 places.",
			"Rénovation de la piscine municipale : traitement d'air, étanchéité des bassins."},
		clients: []string{"Commune de {ville}", "Communauté d'agglomération de {ville}"}, budgetMin: 1_500_000, budgetMax: 9_000_000, daysMin: 300, daysMax: 720},
	{weight: 8, noms: []string{"Ravalement façade {nom}", "Ravalement – {res}", "Réfection toiture {nom}"},
		description: []string{"Ravalement de façade, traitement des fissures et peinture.",
			"Réfection complète de la toiture : dépose, charpente, couverture tuiles et zinguerie."},
		clients: []string{"Syndicat des copropriétaires {res}", "M. et Mme {nom}", "SCI {nom}"}, budgetMin: 25_000, budgetMax: 450_000, daysMin: 20, daysMax: 120},
	{weight: 3, noms: []string{"Crèche {res}", "Maison de santé de {ville}", "EHPAD {res}"},
		description: []string{"Construction d'une crèche de {n}0 berceaux, bâtiment basse consommation.",
			"Maison de santé pluridisciplinaire : cabinets médicaux et pharmacie.",
			"Construction d'un EHPAD de {n}0 lits avec unité protégée."},
		clients: []string{"Commune de {ville}", "Centre hospitalier de {ville}", "Association {res}"}, budgetMin: 1_000_000, budgetMax: 18_000_000, daysMin: 300, daysMax: 800},
	{weight: 5, noms: []string{"VRD lotissement {res}", "Aménagement voirie {ville}", "Réseaux ZAC {res}"},
		description: []string{"Voirie et réseaux divers : terrassement, assainissement, éclairage public.",
			"Réaménagement de la voirie, pistes cyclables et plantations."},
		clients: []string{"Commune de {ville}", "Métropole de {ville}", "Aménageur {nom}"}, budgetMin: 150_000, budgetMax: 3_000_000, daysMin: 60, daysMax: 360, industrial: true},
	{weight: 5, noms: []string{"Commerce {nom} – rénovation", "Restaurant {nom}", "Boulangerie {nom}"},
		description: []string{"Rénovation d'une cellule commerciale, devanture et mise aux normes ERP.",
			"Aménagement d'un restaurant : cuisine professionnelle, extraction et salle de {n}0 couverts."},
		clients: []string{"SARL {nom}", "EURL {nom}", "SAS {nom}"}, budgetMin: 40_000, budgetMax: 600_000, daysMin: 30, daysMax: 150},
}

// Business parks for sites of industrial kinds.
var zonesActivite = []string{"ZA des Platières", "ZI Nord", "Parc d'activités des Landes", "ZAC du Moulin", "ZI de la Gare",
	"Parc logistique Sud", "ZA du Bois Joli", "ZAC des Portes de l'Ouest"}

// pointageComments are what workers write on their time entries; the first,
// empty, is by far the most common.
var pointageComments = []string{
	"", "Coulage dalle", "Ferraillage longrines", "Pose placo R+1", "Terrassement et fouilles", "Montage échafaudage",
	"Attente livraison béton", "Réunion de chantier", "Intempéries – arrêt à 15h", "Nettoyage et repli", "Pose menuiseries",
	"Coffrage voiles", "Réseaux EU/EP", "Pose carrelage", "Étanchéité toiture terrasse", "Tirage de câbles",
	"Reprise des réserves", "Isolation combles", "Maçonnerie parpaings", "Enduit façade", "Pose charpente",
}

// signalementTopic is an incident report title with its usual severity.
type signalementTopic struct {
	titre   string
	gravite [4]int // weights for basse, moyenne, haute, urgente
}

var signalementTopics = []signalementTopic{
	{"Garde-corps manquant", [4]int{0, 1, 5, 4}},
	{"Fissure sur voile béton", [4]int{2, 5, 3, 0}},
	{"Infiltration d'eau en toiture", [4]int{1, 5, 3, 1}},
	{"Échafaudage non conforme", [4]int{0, 2, 5, 3}},
	{"Livraison de béton en retard", [4]int{4, 5, 1, 0}},
	{"Câble électrique apparent", [4]int{0, 2, 5, 3}},
	{"Défaut d'étanchéité terrasse", [4]int{2, 5, 3, 0}},
	{"Tranchée non balisée", [4]int{0, 2, 5, 3}},
	{"Vol de matériel sur le chantier", [4]int{1, 4, 4, 1}},
	{"Port des EPI non respecté", [4]int{1, 4, 4, 1}},
	{"Canalisation endommagée lors du terrassement", [4]int{0, 2, 5, 3}},
	{"Malfaçon carrelage", [4]int{6, 4, 0, 0}},
	{"Retard du sous-traitant plomberie", [4]int{3, 6, 1, 0}},
	{"Accès chantier dégradé", [4]int{5, 4, 1, 0}},
	{"Fuite hydraulique sur engin", [4]int{2, 5, 3, 0}},
	{"Affaissement de remblai", [4]int{0, 3, 5, 2}},
	{"Suspicion d'amiante", [4]int{0, 1, 4, 5}},
	{"Nuisances sonores signalées par les riverains", [4]int{5, 4, 1, 0}},
	{"Déchets non triés en benne", [4]int{7, 3, 0, 0}},
	{"Réserve non levée", [4]int{5, 5, 0, 0}},
	{"Erreur d'implantation", [4]int{1, 4, 4, 1}},
	{"Grue : anémomètre défectueux", [4]int{0, 1, 5, 4}},
}

var zonesChantier = []string{
	"Bâtiment A, niveau 2", "Bâtiment B, rez-de-chaussée", "Cage d'escalier B", "Toiture terrasse", "Sous-sol, parking",
	"Façade nord", "Façade sud", "Accès livraisons", "Base vie", "Local technique", "Logement 12", "Cour intérieure",
}

var signalementSuites = []string{
	"Zone balisée en attendant l'intervention.", "Le sous-traitant a été prévenu.", "Photos jointes au rapport de visite.",
	"Intervention demandée sous 48 h.", "À traiter avant la prochaine réunion de chantier.", "Le maître d'œuvre est informé.",
}

// affectationSlots are working hours (start, end).
var affectationSlots = [][2]string{
	{"08:00", "17:00"}, {"08:00", "17:00"}, {"07:30", "16:30"}, {"07:30", "16:30"}, {"07:00", "15:30"},
	{"08:00", "12:00"}, {"13:30", "17:30"}, {"06:00", "14:00"}, {"14:00", "22:00"}, {"21:00", "23:59"},
}

var affectationNotes = []string{
	"", "Réunion de chantier à 9h", "Prévoir EPI travail en hauteur", "Livraison matériaux le matin",
	"Apporter la bétonnière", "Récupérer les clés en mairie", "Accueil sécurité nouvel arrivant", "Renfort équipe gros œuvre",
	"Contrôle du bureau de contrôle", "Visite du maître d'ouvrage",
}

// documentTemplate names a document of a category; {n} is a number, {l} an
// index letter, {nom} a family name, {d} a date.
type documentTemplate struct {
	categorie string
	nom       string
	ext       string
}

var documentTemplates = []documentTemplate{
	{"plan", "Plan RDC indice {l}", "pdf"}, {"plan", "Plan de masse indice {l}", "pdf"}, {"plan", "Plan de ferraillage n°{n}", "pdf"},
	{"plan", "Coupe AA indice {l}", "dwg"}, {"plan", "Plan des réseaux", "pdf"},
	{"photo", "Photo chantier {d} {n}", "jpg"}, {"photo", "IMG_{n}", "jpg"}, {"photo", "Avancement {d}", "jpg"}, {"photo", "Réserve {n}", "png"},
	{"contrat", "Contrat de sous-traitance {nom}", "pdf"}, {"contrat", "Marché de travaux signé", "pdf"}, {"contrat", "Avenant n°{n}", "pdf"},
	{"facture", "Facture F{n}", "pdf"}, {"facture", "Situation de travaux n°{n}", "pdf"},
	{"rapport", "Compte rendu de chantier n°{n}", "docx"}, {"rapport", "Rapport du bureau de contrôle", "pdf"}, {"rapport", "Visite sécurité {d}", "pdf"},
	{"pv", "PV de réception", "pdf"}, {"pv", "PV de levée des réserves", "pdf"},
	{"autre", "Planning prévisionnel", "xlsx"}, {"autre", "PPSPS", "pdf"}, {"autre", "DICT", "pdf"}, {"autre", "Métré", "xlsx"},
}

// documentFormat is the MIME type and a plausible size range of an extension.
type documentFormat struct {
	mime             string
	minSize, maxSize int64
}

var documentFormats = map[string]documentFormat{
	"pdf":  {"application/pdf", 60 << 10, 12 << 20},
	"dwg":  {"image/vnd.dwg", 200 << 10, 20 << 20},
	"jpg":  {"image/jpeg", 800 << 10, 7 << 20},
	"png":  {"image/png", 300 << 10, 5 << 20},
	"docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", 25 << 10, 2 << 20},
	"xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 15 << 10, 1 << 20},
}

var moisFr = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
